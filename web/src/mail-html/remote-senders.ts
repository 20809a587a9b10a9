/** The senders whose remote content the user chose to load, per account (localStorage: a lasting choice). */
const key = (username: string) => `caliopen.remote-content.${username}`;

export const remoteSenders = {
  list(username: string): string[] {
    try {
      const v = JSON.parse(localStorage.getItem(key(username)) ?? '[]') as unknown;
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  },
  allowed(username: string, sender: string): boolean {
    return this.list(username).includes(sender.toLowerCase());
  },
  allow(username: string, sender: string): void {
    const list = this.list(username);
    if (!list.includes(sender.toLowerCase())) list.push(sender.toLowerCase());
    localStorage.setItem(key(username), JSON.stringify(list));
  },
};
