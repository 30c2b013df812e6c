/** A connection URL fit for logs and messages: the password, if any, is masked. */
export function maskUrlPassword(url: string): string {
  if (!url) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '********';
    return parsed.toString();
  } catch {
    return '********';
  }
}
