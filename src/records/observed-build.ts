import type { BuildOptions, BuildResult } from '../build/types.js';
import type { PhaseSpan } from '../util/trace.js';
import type { OtelBuildExporter } from './otel.js';
import { StepTimer, buildTrace } from './trace.js';
import type { BuildRecords } from './types.js';

/**
 * One build as the engine runs every build: it leaves a record (steps, timings, whole logs:
 * `tbuild builds`, GET /tbuild/builds, BuildKit's history API), and with an OpenTelemetry
 * collector configured its steps and phases become spans, sent when it ends. A collector that
 * cannot take them is a warning, never a failed build.
 */
export async function observedBuild(
  deps: { records: BuildRecords; otel?: () => Promise<OtelBuildExporter> },
  options: BuildOptions,
  run: (options: BuildOptions) => Promise<BuildResult>,
): Promise<BuildResult> {
  const started = Date.now();
  const recorder = await deps.records.start({
    dockerfile: options.dockerfile ?? 'Dockerfile',
    ...(options.dockerfileText !== undefined ? { dockerfileText: options.dockerfileText } : {}),
    ...(options.target ? { target: options.target } : {}),
    args: options.buildArgs ?? {},
    tags: options.tags ?? [],
    ...(options.clientRef ? { ref: options.clientRef } : {}),
  });
  const spans = deps.otel ? new StepTimer() : undefined;
  const sendTrace = async (imageId?: string, error?: Error) => {
    if (!spans || !deps.otel) return;
    let why: string | undefined;
    try {
      why = await (await deps.otel()).send(buildTrace(spans, started, options, imageId, error));
    } catch (err) {
      // (an exporter the SDK would not make: the build is not failed by its traces either)
      why = err instanceof Error ? err.message : String(err);
    }
    if (why) options.onProgress?.({ type: 'warning', message: `the build's traces were not sent to the OpenTelemetry collector: ${why}` });
  };
  try {
    const result = await run({
      ...options,
      onProgress: (e) => {
        recorder.event(e);
        spans?.event(e);
        options.onProgress?.(e);
      },
      onDockerfile: (text) => {
        recorder.dockerfile(text);
        options.onDockerfile?.(text);
      },
      ...(spans
        ? {
            onPhase: (p: PhaseSpan) => {
              spans.phase(p);
              options.onPhase?.(p);
            },
          }
        : {}),
    });
    await recorder.finish({ result: { imageId: result.imageId, digest: result.digest } });
    await sendTrace(result.imageId);
    return result;
  } catch (err) {
    await recorder.finish({ error: err as Error }).catch(() => {});
    await sendTrace(undefined, err as Error);
    throw err;
  }
}
