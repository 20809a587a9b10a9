import { describe, expect, it } from 'vitest';
import type { DirectoryMember } from './api.ts';
import { filterMembers } from './DirectoryScreen.tsx';
import { parseRoute } from './router.ts';

describe('site routes', () => {
  it('reads the directory, a member page and the log with an entry', () => {
    expect(parseRoute('/', '')).toEqual({ name: 'directory' });
    expect(parseRoute('/members/alpha.test', '')).toEqual({ name: 'member', domain: 'alpha.test' });
    expect(parseRoute('/log', '?entry=12')).toEqual({ name: 'log', entry: 12 });
    expect(parseRoute('/log', '?entry=-1')).toEqual({ name: 'log', entry: null });
    expect(parseRoute('/members/<script>', '')).toEqual({ name: 'directory' });
  });

  it('reads the applicant view and the auditor console', () => {
    const id = '0b7c6c8e-4a52-4d7a-9d55-2f7f3c1a9e10';
    expect(parseRoute(`/applications/${id}`, '')).toEqual({ name: 'applicant', id });
    expect(parseRoute('/applications/not-an-id', '')).toEqual({ name: 'directory' });
    expect(parseRoute('/applications/../console', '')).toEqual({ name: 'directory' });
    expect(parseRoute('/console', '')).toEqual({ name: 'console' });
  });
});

describe('directory filter', () => {
  const m = (domain: string, status: DirectoryMember['status']) => ({ domain, status }) as DirectoryMember;
  const all = [m('alpha.test', 'labelled'), m('beta.test', 'revoked'), m('gamma.example', 'suspended')];
  it('searches by domain and filters by standing', () => {
    expect(filterMembers(all, ' BET ', 'all').map((x) => x.domain)).toEqual(['beta.test']);
    expect(filterMembers(all, '', 'suspended').map((x) => x.domain)).toEqual(['gamma.example']);
    expect(filterMembers(all, 'test', 'labelled').map((x) => x.domain)).toEqual(['alpha.test']);
  });
});
