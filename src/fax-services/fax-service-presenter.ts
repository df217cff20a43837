import type { z } from 'zod';
import type { FaxService } from '../db/models/index.js';
import { iso } from '../shared/schemas.js';
import type { FaxServiceSchema } from './fax-service-schemas.js';

export type FaxServiceView = z.infer<typeof FaxServiceSchema>;

export function presentFaxService(f: FaxService): FaxServiceView {
  return {
    id: f.id,
    account_id: f.account_id,
    name: f.name,
    number_id: f.number_id,
    notify_email: f.notify_email,
    created_at: iso(f.created_at),
    updated_at: iso(f.updated_at),
  };
}
