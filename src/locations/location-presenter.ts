import type { z } from 'zod';
import type { Location } from '../db/models/index.js';
import { iso } from '../shared/schemas.js';
import type { LocationSchema } from './location-schemas.js';

export type LocationView = z.infer<typeof LocationSchema>;

export function presentLocation(l: Location): LocationView {
  return {
    id: l.id,
    account_id: l.account_id,
    name: l.name,
    address_line1: l.address_line1,
    address_line2: l.address_line2,
    city: l.city,
    region: l.region,
    postal_code: l.postal_code,
    country: l.country,
    callback_number: l.callback_number,
    created_at: iso(l.created_at),
    updated_at: iso(l.updated_at),
  };
}
