// The body of POST /v1/jobs as a zod schema: what validates every request, and (through
// z.toJSONSchema) the OpenAPI document's `JobRequest` component, so the two cannot say different
// things. It is defined beside the job it asks for (jobs/job.ts), where JobSpec is derived from
// it; the API and jobctl name it here, as part of the wire format.
export { jobRequestSchema, type JobRequest, type JobRequestBody } from '../jobs/job.ts';
