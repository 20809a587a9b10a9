import { createContext, useContext } from 'react';
import type { ApiClient, StoredSession } from '../api/client.ts';

export interface SessionContextValue {
  api: ApiClient;
  session: StoredSession | null;
  signedIn(session: StoredSession): void;
  signOut(): Promise<void>;
}

export const SessionContext = createContext<SessionContextValue | null>(null);

export function useSession(): SessionContextValue {
  const v = useContext(SessionContext);
  if (!v) throw new Error('useSession outside <SessionContext>');
  return v;
}
