// First: the Buffer global the bundled federation-protocol code needs, before its modules evaluate.
import './shims/buffer-global.ts';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { I18nextProvider } from 'react-i18next';
import '../design-system/tokens.css';
import './registry.css';
import { createRegistryI18n } from './i18n/i18n.ts';
import { RegistryApp } from './RegistryApp.tsx';

const i18n = createRegistryI18n();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <I18nextProvider i18n={i18n}>
      <RegistryApp />
    </I18nextProvider>
  </StrictMode>,
);
