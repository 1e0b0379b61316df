/**
 * A URL fit to show (progress, build records, `builder du`): its password replaced by `xxxxx`, as
 * BuildKit shows credentials, and a user name given without a password (a token put there, as in
 * `https://TOKEN@host/repo.git`) replaced too, except over ssh where it is only the login name.
 * Anything that is not a URL with user information is returned as it is.
 */
export function redactCredentials(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return text;
  }
  if (!u.username && !u.password) return text;
  if (u.password) u.password = 'xxxxx';
  else if (!/^(ssh|git\+ssh):$/.test(u.protocol)) u.username = 'xxxxx';
  else return text;
  return u.toString();
}
