import { createContext, type ReactNode, useContext, useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ApiClient } from '../api/client.ts';
import { refreshKeyAlerts } from '../app/key-alerts.ts';
import { connectLiveEvents, type LiveMessage, type LiveStatus } from './event-stream.ts';

type Listener = (m: LiveMessage) => void;

interface LiveContextValue {
  subscribe(listener: Listener): () => void;
  status: LiveStatus;
}

const LiveContext = createContext<LiveContextValue | null>(null);

/**
 * The app's live-update stream (one per open app while signed in): screens subscribe with useLiveEvent; new mail and
 * failed deliveries are announced politely to screen readers; key alerts refresh where they show; a session ended
 * on the instance signs the app out.
 */
export function LiveEventsProvider({ api, children }: { api: ApiClient; children: ReactNode }) {
  const { t } = useTranslation();
  const listeners = useRef(new Set<Listener>());
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [announcement, setAnnouncement] = useState('');
  const tRef = useRef(t);
  tRef.current = t;

  useEffect(() => {
    const announce = (text: string) => setAnnouncement(text);
    const stream = connectLiveEvents({
      request: () => api.liveEventsRequest(),
      onStatus: setStatus,
      onSessionEnded: () => api.sessionEnded(),
      onEvent: (m) => {
        for (const l of listeners.current) l(m);
        if (m.event === 'key-alerts.changed') refreshKeyAlerts();
        if (m.event === 'message.new' && m.data.direction === 'inbound' && typeof m.data.discussionId === 'string') {
          api.discussion(m.data.discussionId).then(
            (d) => announce(tRef.current('live.newMessage', { title: d.title })),
            () => announce(tRef.current('live.newMessageUntitled')),
          );
        }
        if (m.event === 'notices.changed') announce(tRef.current('live.noticesChanged'));
      },
    });
    return () => stream.close();
  }, [api]);

  const value = useMemo<LiveContextValue>(
    () => ({
      subscribe(listener) {
        listeners.current.add(listener);
        return () => {
          listeners.current.delete(listener);
        };
      },
      status,
    }),
    [status],
  );

  return (
    <LiveContext.Provider value={value}>
      {children}
      <div className="visually-hidden" aria-live="polite" aria-atomic="true" data-testid="live-announcer">
        {announcement}
      </div>
    </LiveContext.Provider>
  );
}

/** Calls `handler` with every live event while the component is mounted (nothing outside a LiveEventsProvider). */
export function useLiveEvent(handler: (m: LiveMessage) => void): void {
  const live = useContext(LiveContext);
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => live?.subscribe((m) => ref.current(m)), [live]);
}

export function useLiveStatus(): LiveStatus | null {
  return useContext(LiveContext)?.status ?? null;
}
