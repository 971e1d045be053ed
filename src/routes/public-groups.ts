import { METHOD_NAME_ALL } from 'hono/router';
import { RegExpRouter } from 'hono/router/reg-exp-router';
import { honoPath, type RouteGroup } from './lazy.ts';

// The route groups the public Worker (src/public.ts, workers/public/wrangler.toml) serves itself: what a buyer's app
// calls, and so what most cold starts in most locations serve (issue #13). The API Worker serves them too, in
// src/routes/groups.ts's order, with every other group. This module imports no other group, so the public Worker's
// bundle holds only these groups' code (tests/node/public-worker.test.ts checks the bundle).

/** Liveness and readiness (no tenant, no I/O for /health). */
export const HEALTH_GROUP: RouteGroup = {
  name: 'health',
  routes: [
    ['GET', '/health'],
    ['GET', '/health/ready'],
  ],
  load: async () => (await import('./health/index.ts')).registerHealthRoutes,
};

/** The buyer's API: the catalogue, event detail, quotes, checkout and the booking's own view and changes. */
export const PUBLIC_GROUP: RouteGroup = {
  name: 'public',
  routes: [
    ['GET', '/api/v1/public/events'],
    ['GET', '/api/v1/public/events/{slug}'],
    ['POST', '/api/v1/public/events/{slug}/bookings'],
    ['POST', '/api/v1/public/events/{slug}/quote'],
    ['POST', '/api/v1/public/bookings/{id}/checkout'],
    ['GET', '/api/v1/public/bookings/{id}'],
    ['POST', '/api/v1/public/bookings/{id}/attendees/{attendeeId}/transfer'],
    ['POST', '/api/v1/public/bookings/{id}/cancel'],
    ['PATCH', '/api/v1/public/bookings/{id}/attendees/{attendeeId}'],
  ],
  load: async () => (await import('./public/index.ts')).registerPublicRoutes,
};

/** iCalendar files and feeds of published events and of a booking (rendered by the formats Worker). */
export const CALENDARS_GROUP: RouteGroup = {
  name: 'calendars',
  routes: [
    ['GET', '/api/v1/public/calendar.ics'],
    ['GET', '/api/v1/public/events/{slug}/calendar.ics'],
    ['GET', '/api/v1/public/bookings/{id}/calendar.ics'],
  ],
  load: async () => (await import('./calendars/index.ts')).registerCalendarRoutes,
};

/** Live streams of an event (the EventLive Durable Object): seats for buyers, check-ins and bookings for staff. */
export const LIVE_GROUP: RouteGroup = {
  name: 'live',
  routes: [
    ['GET', '/api/v1/public/events/{slug}/live'],
    ['GET', '/api/v1/events/{id}/live/check-ins'],
    ['GET', '/api/v1/events/{id}/live/bookings'],
  ],
  load: async () => (await import('./live/index.ts')).registerLiveRoutes,
};

/** Waitlist with automatic offers (issue #18 part 2): joining and the offer's answer, and the staff view. */
export const WAITLIST_GROUP: RouteGroup = {
  name: 'waitlist',
  routes: [
    ['POST', '/api/v1/public/events/{slug}/waitlist'],
    ['POST', '/api/v1/public/bookings/{id}/claim'],
    ['POST', '/api/v1/public/bookings/{id}/decline'],
    ['GET', '/api/v1/events/{id}/waitlist'],
    ['DELETE', '/api/v1/events/{id}/waitlist/{entryId}'],
  ],
  load: async () => (await import('./waitlist/index.ts')).registerWaitlistRoutes,
};

/** The groups of the public Worker, in the API Worker's registration order. */
export const PUBLIC_WORKER_GROUPS: readonly RouteGroup[] = [
  HEALTH_GROUP,
  PUBLIC_GROUP,
  CALENDARS_GROUP,
  LIVE_GROUP,
  WAITLIST_GROUP,
];

/**
 * Whether a request path is one of `groups`' route paths, for any method (a path's 405 and CORS preflight are answered
 * where its routes are), decided by Hono's own router (the one the app routes with), so a path the app would route to
 * one of these groups is exactly a path this answers true for.
 */
export function servesPath(groups: readonly RouteGroup[]): (path: string) => boolean {
  const router = new RegExpRouter<true>();
  for (const group of groups) for (const [, path] of group.routes) router.add(METHOD_NAME_ALL, honoPath(path), true);
  return (path) => router.match(METHOD_NAME_ALL, path)[0].length > 0;
}
