import type { ReactNode } from 'react';
import { onLinkClick } from './router.ts';

export function Link({ href, children, className }: { href: string; children: ReactNode; className?: string }) {
  return (
    <a href={href} className={className} onClick={(e) => onLinkClick(e, href)}>
      {children}
    </a>
  );
}
