import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { AppError } from '../shared/errors.ts';
import type { Storage } from '../database/storage.port.ts';
import type { Device } from './device.entity.ts';

/** A user's view of the devices that logged in to their account. */
export class DeviceService {
  constructor(
    private readonly storage: Storage,
    private readonly clock: Clock,
  ) {}

  list(accountId: string): Promise<Device[]> {
    return this.storage.devices.listByAccount(accountId);
  }

  async get(accountId: string, id: string): Promise<Device> {
    const device = await this.storage.devices.get(accountId, id);
    if (!device) throw new AppError('not_found');
    return device;
  }

  /** Revokes the device and every session opened from it: its tokens stop working at once. */
  async revoke(accountId: string, id: string): Promise<Device> {
    const device = await this.get(accountId, id);
    if (device.revokedAt) return device;
    const now = this.clock();
    await this.storage.devices.revoke(accountId, id, now);
    await this.storage.sessions.revokeByDevice(accountId, id, now);
    return { ...device, revokedAt: now };
  }
}
