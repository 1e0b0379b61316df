import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, as DOCKER_CERT_PATH lays them out. */
export async function makeCerts(dir: string): Promise<void> {
  const o = (...args: string[]) => run('openssl', args, { cwd: dir });
  await o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=tbuild-test-ca', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, subj] of [['server', '/CN=127.0.0.1'], ['client', '/CN=client']] as const) {
    const key = name === 'client' ? 'key.pem' : 'server-key.pem';
    const cert = name === 'client' ? 'cert.pem' : 'server-cert.pem';
    await o('req', '-newkey', 'rsa:2048', '-nodes', '-subj', subj, '-keyout', key, '-out', `${name}.csr`);
    await o('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', cert);
  }
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

