// The body of POST /v1/jobs as a zod schema: what validates every request, and (through
// z.toJSONSchema) the OpenAPI document's `JobRequest` component, so the two cannot say different
// things. Pure shape: src/api/jobs/job-request.ts applies the server's defaults and the caller's role
// ceilings to what it accepts. jobctl takes the type of what it sends from here.
import { z } from 'zod';
import {
  IMAGE_NAME,
  sandboxModeSchema,
  stderrModeSchema,
  terminalSizeSchema,
} from '../jobs/job.ts';
import { labelsSchema } from '../jobs/labels.ts';
import { DURATION_TEXT, MAX_SIZE_BYTES, SIZE_TEXT } from '../util/quantities.ts';

/** Text that a C string can carry: argv, environment and paths end at the first NUL. */
const NO_NUL = /^[^\0]*$/;
const NO_NUL_MESSAGE = 'must not contain NUL bytes';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const size = z
  .union([
    z.number().int().positive().max(MAX_SIZE_BYTES).meta({ format: 'int64' }),
    z.string().min(1).max(32).regex(SIZE_TEXT, 'expected a size such as 67108864 or "64M"'),
  ])
  .meta({
    description:
      'bytes, or a size with a binary unit as docker and Kubernetes write them: "64M", "512Mi", "1.5GiB", "500MB" (MB is 1024 ** 2 bytes, as docker says)',
  });
const duration = z
  .union([
    z.number().positive(),
    z.string().min(1).max(32).regex(DURATION_TEXT, 'expected a duration such as 30, "30s" or "5m"'),
  ])
  .meta({
    description: 'seconds, or a duration with a unit such as "500ms", "30s", "5m", "2h" or "1d"',
  });

/** The body of POST /v1/jobs; a field it does not list is refused. */
export const jobRequestSchema = z.strictObject({
  command: z.string().min(1).max(4096).regex(NO_NUL, NO_NUL_MESSAGE).meta({
    description: 'the program: an absolute path or a name looked up in PATH (never a shell line)',
  }),
  args: z
    .array(
      z
        .string()
        .max(128 * 1024)
        .regex(NO_NUL, NO_NUL_MESSAGE),
    )
    .max(4096)
    .default([]),
  env: z
    .record(
      z
        .string()
        .max(256)
        .regex(
          ENV_NAME,
          'must be a variable name: letters, digits and _, not starting with a digit',
        ),
      z
        .string()
        .max(32 * 1024)
        .regex(NO_NUL, NO_NUL_MESSAGE),
    )
    .refine((env) => Object.keys(env).length <= 256, 'at most 256 variables')
    .default({})
    .meta({
      maxProperties: 256,
      description:
        "variables merged over the worker's minimal environment; the job record keeps their names only",
    }),
  cwd: z
    .string()
    .max(4096)
    .regex(/^\/[^\0]*$/, 'must be an absolute path, without NUL bytes')
    .optional()
    .meta({
      description:
        "a path as the job sees it: in the private sandbox its own writable `/work` (the default), on the host's filesystem `/`",
    }),
  sandbox: sandboxModeSchema.optional().meta({
    description:
      "`private` (the default): the job's own root of read-only host paths or an image, memory-backed writable space, its client's own uid and a seccomp filter. `host`: the host's filesystem, for roles the server's configuration allows (`SANDBOX_NOT_ALLOWED` otherwise)",
  }),
  image: z
    .string()
    .max(64)
    .regex(IMAGE_NAME, 'must be an image name: a-z, 0-9, ".", "_" and "-", up to 64')
    .optional()
    .meta({
      description:
        'a root filesystem image the operator imported (`npm run images`), seen instead of the host paths',
    }),
  labels: labelsSchema,
  limits: z
    .strictObject({
      // The kernel's smallest CPU quota is 1 ms per 100 ms period: a hundredth of a CPU.
      cpus: z.number().min(0.01).max(1024).optional().meta({ description: 'CPU quota, in CPUs' }),
      memory: size.optional(),
      pids: z.number().int().positive().max(4_194_304).optional().meta({ format: 'int32' }),
      ioReadBps: size.optional(),
      ioWriteBps: size.optional(),
    })
    .default({})
    .meta({
      description:
        "the server's defaults apply to what is not asked for; each is capped by the caller's role ceiling",
    }),
  timeout: duration.optional(),
  queueTimeout: duration.optional().meta({
    description:
      'how long it may wait in the queue (at most 7 days); past that it ends `stopped` without having run. Default: no limit',
  }),
  stdin: z.boolean().default(false).meta({
    description:
      "keep the job's standard input open for its owner to write to (`PUT /v1/jobs/{id}/stdin`); without it the job reads an empty input",
  }),
  stderr: stderrModeSchema.default('separate').meta({
    description:
      "`merged`: the job's stderr is its stdout pipe, so the order of what it writes to both is kept and all of it is the `stdout` stream (as `2>&1`); `separate` (the default): two pipes, each in order, but not across each other",
  }),
  tty: z.boolean().default(false).meta({
    description:
      'run the job on a pseudo-terminal, as `ssh -t` and `docker run -t` do: it is the session leader with the terminal as its controlling terminal, its output is one stream, and its input is open (`stdin` is implied). Use it through `GET /v1/jobs/{id}/attach`',
  }),
  ttySize: terminalSizeSchema.optional().meta({
    description: "the terminal's size at start (with `tty`); default 24 rows of 80 columns",
  }),
});

/** A request as the server reads it: defaults filled in. */
export type JobRequest = z.output<typeof jobRequestSchema>;

/** A request as a client writes it: what jobctl sends. */
export type JobRequestBody = z.input<typeof jobRequestSchema>;
