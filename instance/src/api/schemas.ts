import { Type } from 'typebox';

/** Small schema pieces the routes share. */
export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
export const NoContent = Type.Null({ description: 'No content' });
export const Password = Type.String({ minLength: 1, maxLength: 1024 });
export const Username = Type.String({ minLength: 1, maxLength: 64 });
