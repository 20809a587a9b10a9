import type { StoredPi } from '../mail/message.entity.ts';
import type { Device } from './device.entity.ts';

/** Port: devices of an account. Every read is scoped to the owning account. */
export interface DeviceRepository {
  create(device: Device): Promise<void>;
  get(accountId: string, id: string): Promise<Device | null>;
  /** Devices of the account, most recently seen first. Revoked ones included (the UI shows them greyed). */
  listByAccount(accountId: string): Promise<Device[]>;
  touch(accountId: string, id: string, at: Date): Promise<void>;
  revoke(accountId: string, id: string, at: Date): Promise<boolean>;
  /** Stores the device's PI summary (no-op for an unknown device). */
  setPi(accountId: string, id: string, pi: StoredPi): Promise<void>;
}

/** This domain's repository on the instance's storage (database/storage.port.ts). */
declare module '../database/storage.port.ts' {
  interface Storage {
    readonly devices: DeviceRepository;
  }
}
