import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../api/access.ts';
import { problemResponses } from '../api/problem.ts';
import { IdParams } from '../api/schemas.ts';
import { DeviceDto, toDeviceDto } from './device.dto.ts';
import type { DeviceService } from './device.service.ts';

/** A user's devices: list them, see one, revoke one (its sessions end at once). */
/**
 * What these routes ask of the Privacy Index engine (privacy/pi.service.ts answers): recompute the account's summary
 * when a device is revoked. Named here so that devices do not import the engine, which reads them.
 */
export interface DevicePrivacy {
  enqueue(job: { kind: 'summary'; accountId: string }): Promise<void>;
}

export const deviceRoutes: FastifyPluginAsync<{ devices: DeviceService; privacy: DevicePrivacy }> = async (
  app,
  { devices, privacy },
) => {
  app.get(
    '/api/v1/devices',
    {
      config: { access: 'user' },
      schema: {
        tags: ['devices'],
        summary: 'Devices that logged in to this account, most recently seen first.',
        response: { 200: Type.Object({ items: Type.Array(DeviceDto) }), ...problemResponses(401) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return { items: (await devices.list(p.account.id)).map((d) => toDeviceDto(d, p.session.deviceId)) };
    },
  );

  app.get(
    '/api/v1/devices/:id',
    {
      config: { access: 'user' },
      schema: { tags: ['devices'], params: IdParams, response: { 200: DeviceDto, ...problemResponses(400, 401, 404) } },
    },
    async (request) => {
      const p = principalOf(request);
      return toDeviceDto(await devices.get(p.account.id, (request.params as { id: string }).id), p.session.deviceId);
    },
  );

  app.delete(
    '/api/v1/devices/:id',
    {
      config: { access: 'user' },
      schema: {
        tags: ['devices'],
        summary: 'Revoke a device: every session opened from it ends now.',
        params: IdParams,
        response: { 200: DeviceDto, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const revoked = await devices.revoke(p.account.id, (request.params as { id: string }).id);
      // The account PI counts active devices only: revoking the weakest may raise it.
      await privacy.enqueue({ kind: 'summary', accountId: p.account.id });
      return toDeviceDto(revoked, p.session.deviceId);
    },
  );
};
