// Every route the server answers on its port, each as its module declares it (its OpenAPI
// operation and audit action), in the OpenAPI document's order: the document's paths and the
// audit trail's actions are both read from this list.
import { CONSOLE_ROUTES } from '../openapi/console-pages.ts';
import type { RouteDeclaration } from '../route-declaration.ts';
import { ATTACH_ROUTES } from './attach.ts';
import { AUDIT_ROUTES } from './audit.ts';
import { HEALTH_ROUTES } from './health.ts';
import { IMAGES_ROUTES } from './images.ts';
import { JOB_ROUTES } from './jobs.ts';
import { LIMITS_ROUTES } from './limits.ts';
import { METRICS_ROUTES } from './metrics.ts';
import { OPENAPI_ROUTES } from './openapi.ts';
import { VOLUME_ROUTES } from './volumes.ts';

export const ROUTES: readonly RouteDeclaration[] = [
  ...JOB_ROUTES,
  ...ATTACH_ROUTES,
  ...VOLUME_ROUTES,
  ...LIMITS_ROUTES,
  ...IMAGES_ROUTES,
  ...AUDIT_ROUTES,
  ...HEALTH_ROUTES,
  ...METRICS_ROUTES,
  ...OPENAPI_ROUTES,
  ...CONSOLE_ROUTES,
];
