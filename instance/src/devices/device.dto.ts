import { Type, type Static } from 'typebox';
import { computeDevicePi } from '../pi-model/device-pi.model.ts';
import { PiBreakdownDto, toPiBreakdownDto } from '../pi-model/pi.dto.ts';
import type { Device } from './device.entity.ts';
import { deviceSupport } from './os-support.ts';

export const DeviceDto = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    type: Type.Union([
      Type.Literal('desktop'),
      Type.Literal('mobile'),
      Type.Literal('tablet'),
      Type.Literal('cli'),
      Type.Literal('unknown'),
    ]),
    os: Type.Union([Type.String(), Type.Null()]),
    osVersion: Type.Union([Type.String(), Type.Null()]),
    browser: Type.Union([Type.String(), Type.Null()]),
    browserVersion: Type.Union([Type.String(), Type.Null()]),
    firstSeenAt: Type.String({ format: 'date-time' }),
    lastSeenAt: Type.String({ format: 'date-time' }),
    revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    current: Type.Boolean({ description: 'true for the device this request comes from' }),
    pi: PiBreakdownDto,
  },
  { additionalProperties: false },
);

/** The device's PI as of `now`: its system's and browser's support status move with the calendar, not with the device. */
export function toDeviceDto(
  d: Device,
  currentDeviceId: string | null,
  now: Date = new Date(),
): Static<typeof DeviceDto> {
  return {
    id: d.id,
    name: d.name,
    type: d.type,
    os: d.os,
    osVersion: d.osVersion,
    browser: d.browser,
    browserVersion: d.browserVersion,
    firstSeenAt: d.firstSeenAt.toISOString(),
    lastSeenAt: d.lastSeenAt.toISOString(),
    revokedAt: d.revokedAt ? d.revokedAt.toISOString() : null,
    current: d.id === currentDeviceId,
    pi: toPiBreakdownDto(computeDevicePi({ id: d.id, ...deviceSupport(d, now) })),
  };
}
