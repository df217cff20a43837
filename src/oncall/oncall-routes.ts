import { z } from 'zod';
import type { RouteContext } from '../http/route-context.js';
import { defineRoute } from '../http/route.js';
import { PageOnlyQuery } from '../shared/pagination.js';
import { pageOf } from '../shared/schemas.js';
import {
  CreateRotationBody,
  CreateScheduleBody,
  CreateShiftBody,
  OnCallNowSchema,
  RotationParams,
  RotationSchema,
  ScheduleParams,
  ScheduleSchema,
  ShiftListQuery,
  ShiftParams,
  ShiftSchema,
  UpdateScheduleBody,
  UpdateShiftBody,
  UserShiftListQuery,
  VerifyPinBody,
} from './oncall-schemas.js';

const tag = 'OnCall';
const SchedulePage = z.object({ data: z.array(ScheduleSchema), next_cursor: z.string().nullable() }).meta({ id: 'OncallSchedulePage' });
const ShiftPage = z.object({ data: z.array(ShiftSchema), next_cursor: z.string().nullable() }).meta({ id: 'OncallShiftPage' });

export function registerOncallRoutes({ router, registry, services }: RouteContext): void {
  const oncall = services.oncall;
  const base = '/v1/oncall/schedules';

  defineRoute(router, registry, {
    method: 'get',
    path: base,
    tag,
    auth: true,
    summary: 'List OnCall schedules',
    query: PageOnlyQuery,
    responses: { 200: { description: 'A page of schedules', schema: SchedulePage } },
    handler: async ({ actor, query }) => ({ status: 200, body: await oncall.listSchedules(actor, query) }),
  });
  defineRoute(router, registry, {
    method: 'post',
    path: base,
    tag,
    auth: true,
    summary: 'Create an OnCall schedule (admins)',
    body: CreateScheduleBody,
    responses: { 201: { description: 'Created', schema: ScheduleSchema }, 409: { description: 'Name taken' } },
    handler: async ({ actor, body }) => {
      const s = await oncall.createSchedule(actor, body);
      return { status: 201, headers: { Location: `${base}/${s.id}` }, body: s };
    },
  });
  defineRoute(router, registry, {
    method: 'get',
    path: `${base}/{id}`,
    tag,
    auth: true,
    summary: 'Read an OnCall schedule',
    params: ScheduleParams,
    responses: { 200: { description: 'The schedule', schema: ScheduleSchema } },
    handler: async ({ actor, params }) => ({ status: 200, body: await oncall.getSchedule(actor, params.id) }),
  });
  defineRoute(router, registry, {
    method: 'patch',
    path: `${base}/{id}`,
    tag,
    auth: true,
    summary: 'Change an OnCall schedule (admins)',
    params: ScheduleParams,
    body: UpdateScheduleBody,
    responses: { 200: { description: 'The schedule', schema: ScheduleSchema } },
    handler: async ({ actor, params, body }) => ({ status: 200, body: await oncall.updateSchedule(actor, params.id, body) }),
  });
  defineRoute(router, registry, {
    method: 'delete',
    path: `${base}/{id}`,
    tag,
    auth: true,
    summary: 'Delete an OnCall schedule with its shifts and rotations (admins)',
    params: ScheduleParams,
    responses: { 204: { description: 'Deleted' } },
    handler: async ({ actor, params }) => {
      await oncall.removeSchedule(actor, params.id);
      return { status: 204 };
    },
  });
  defineRoute(router, registry, {
    method: 'get',
    path: `${base}/{id}/now`,
    tag,
    auth: true,
    summary: 'Who is on call right now',
    params: ScheduleParams,
    responses: { 200: { description: 'Users whose shift covers this instant', schema: OnCallNowSchema } },
    handler: async ({ actor, params }) => ({ status: 200, body: await oncall.onCallNow(actor, params.id) }),
  });

  defineRoute(router, registry, {
    method: 'get',
    path: `${base}/{id}/shifts`,
    tag,
    auth: true,
    summary: 'List shifts of a schedule in time order (default: not yet ended)',
    params: ScheduleParams,
    query: ShiftListQuery,
    responses: { 200: { description: 'A page of shifts', schema: ShiftPage } },
    handler: async ({ actor, params, query }) => ({ status: 200, body: await oncall.listShifts(actor, params.id, query) }),
  });
  defineRoute(router, registry, {
    method: 'post',
    path: `${base}/{id}/shifts`,
    tag,
    auth: true,
    summary: 'Add a shift (admins); its reminder is armed at once',
    params: ScheduleParams,
    body: CreateShiftBody,
    responses: {
      201: { description: 'Created', schema: ShiftSchema },
      409: { description: 'shift_overlap: the user already has a shift then' },
      422: { description: 'A rule refused the shift' },
    },
    handler: async ({ actor, params, body }) => {
      const s = await oncall.createShift(actor, params.id, body);
      return { status: 201, headers: { Location: `${base}/${params.id}/shifts/${s.id}` }, body: s };
    },
  });
  defineRoute(router, registry, {
    method: 'get',
    path: `${base}/{id}/shifts/{shiftId}`,
    tag,
    auth: true,
    summary: 'Read a shift',
    params: ShiftParams,
    responses: { 200: { description: 'The shift', schema: ShiftSchema } },
    handler: async ({ actor, params }) => ({ status: 200, body: await oncall.getShift(actor, params.id, params.shiftId) }),
  });
  defineRoute(router, registry, {
    method: 'patch',
    path: `${base}/{id}/shifts/{shiftId}`,
    tag,
    auth: true,
    summary: 'Change a shift (admins); a new start re-arms its reminder',
    params: ShiftParams,
    body: UpdateShiftBody,
    responses: { 200: { description: 'The shift', schema: ShiftSchema }, 409: { description: 'shift_overlap' } },
    handler: async ({ actor, params, body }) => ({ status: 200, body: await oncall.updateShift(actor, params.id, params.shiftId, body) }),
  });
  defineRoute(router, registry, {
    method: 'delete',
    path: `${base}/{id}/shifts/{shiftId}`,
    tag,
    auth: true,
    summary: 'Delete a shift (admins); cancels its reminder',
    params: ShiftParams,
    responses: { 204: { description: 'Deleted' } },
    handler: async ({ actor, params }) => {
      await oncall.removeShift(actor, params.id, params.shiftId);
      return { status: 204 };
    },
  });

  defineRoute(router, registry, {
    method: 'get',
    path: `${base}/{id}/rotations`,
    tag,
    auth: true,
    summary: 'List recurring rotations of a schedule',
    params: ScheduleParams,
    query: PageOnlyQuery,
    responses: { 200: { description: 'A page of rotations', schema: pageOf(RotationSchema, 'OncallRotationPage') } },
    handler: async ({ actor, params, query }) => ({ status: 200, body: await oncall.listRotations(actor, params.id, query) }),
  });
  defineRoute(router, registry, {
    method: 'post',
    path: `${base}/{id}/rotations`,
    tag,
    auth: true,
    summary: 'Create a recurring rotation (admins); its shifts are created up to the horizon now and extended daily by the job',
    params: ScheduleParams,
    body: CreateRotationBody,
    responses: { 201: { description: 'Created', schema: RotationSchema.extend({ shifts_created: z.number() }) } },
    handler: async ({ actor, params, body }) => {
      const r = await oncall.createRotation(actor, params.id, body);
      return {
        status: 201,
        headers: { Location: `${base}/${params.id}/rotations/${r.rotation.id}` },
        body: { ...r.rotation, shifts_created: r.shiftsCreated },
      };
    },
  });
  defineRoute(router, registry, {
    method: 'delete',
    path: `${base}/{id}/rotations/{rotationId}`,
    tag,
    auth: true,
    summary: 'Delete a rotation and its shifts that have not started (admins)',
    params: RotationParams,
    responses: { 204: { description: 'Deleted' } },
    handler: async ({ actor, params }) => {
      await oncall.removeRotation(actor, params.id, params.rotationId);
      return { status: 204 };
    },
  });

  defineRoute(router, registry, {
    method: 'get',
    path: '/v1/users/{id}/oncall-shifts',
    tag,
    auth: true,
    summary: "A user's OnCall shifts in every schedule (users see their own)",
    params: ScheduleParams,
    query: UserShiftListQuery,
    responses: { 200: { description: 'A page of shifts', schema: ShiftPage } },
    handler: async ({ actor, params, query }) => ({ status: 200, body: await oncall.listUserShifts(actor, params.id, query) }),
  });

  defineRoute(router, registry, {
    method: 'post',
    path: '/v1/oncall/verify-pin',
    tag,
    auth: true,
    summary: "Check a user's OnCall PIN for the IVR (admin or workspace credential); throttled, and the same answer for an unknown extension",
    body: VerifyPinBody,
    responses: {
      200: { description: 'Whether the PIN matches', schema: z.object({ valid: z.boolean() }) },
      429: { description: 'Too many wrong PINs for this extension or from this address' },
    },
    handler: async ({ actor, body }) => ({
      status: 200,
      headers: { 'Cache-Control': 'no-store' },
      body: { valid: await services.oncallPins.verify(actor, body.extension, body.pin) },
    }),
  });
}
