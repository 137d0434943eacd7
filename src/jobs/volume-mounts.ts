// The volumes a job mounts (`"volumes": [{"name": "src", "path": "/work/src"}]`): the request's
// schema for them and the rule for where one may go. A volume is its client's named filesystem
// (src/volumes/); a job sees it at a path of its own sandbox, read-only when it asks. Shared
// vocabulary: the request's schema validates it, the launcher's volumes step mounts it and the
// registry asks which queued or running jobs name a volume.
import { z } from 'zod';

/** The most volumes one job mounts. */
export const MAX_VOLUME_MOUNTS = 8;

/** A volume's name: the label rules' name (Kubernetes'): 1 to 63 letters, digits, -, _ or . */
export const VOLUME_NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
export const VOLUME_NAME_RULE =
  'a volume name is 1 to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';

/**
 * Where no volume may go: the sandbox's system mounts (/proc, /sys, /dev, /run) and the host's
 * read-only system paths every sandbox shows (DEFAULT_BINDS in host-binds.ts, /boot and /var
 * with them): a volume there would hide the job's programs or the kernel's interfaces. Anywhere
 * else is the job's own: /work and below (its working directory), /tmp, /data, /cache...
 */
export const RESERVED_VOLUME_ROOTS = [
  'proc',
  'sys',
  'dev',
  'run',
  'bin',
  'boot',
  'etc',
  'lib',
  'lib32',
  'lib64',
  'sbin',
  'usr',
  'var',
] as const;

/** Why `path` is no place for a volume, or undefined when it is one. */
export function volumePathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path';
  if (path === '/') return 'must not be / (the sandbox root)';
  const parts = path.slice(1).split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..'))
    return 'must be normalised: no empty, "." or ".." part, no trailing /';
  if (path.includes('\0')) return 'must not contain NUL bytes';
  const [top = ''] = parts;
  if ((RESERVED_VOLUME_ROOTS as readonly string[]).includes(top))
    return `must not be at or under /${top} (the sandbox's own)`;
  return undefined;
}

/** One volume a job mounts. */
export const volumeMountSchema = z
  .strictObject({
    name: z.string().max(63).regex(VOLUME_NAME, VOLUME_NAME_RULE).meta({
      description:
        "one of the caller's volumes (`GET /v1/volumes`); another client's is `VOLUME_NOT_FOUND`, as a missing one is",
    }),
    path: z
      .string()
      .max(1024)
      .superRefine((path, context) => {
        const problem = volumePathProblem(path);
        if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
      })
      .meta({
        description: `where the job sees it: an absolute, normalised path, not / and not at or under ${RESERVED_VOLUME_ROOTS.map((root) => `/${root}`).join(', ')}; e.g. \`/work/src\`, or \`/work\` itself`,
      }),
    readOnly: z.boolean().default(false).meta({
      description: 'mount it read-only: the job writing there gets EROFS',
    }),
  })
  .readonly();
export type VolumeMount = z.output<typeof volumeMountSchema>;

/**
 * Why two of a job's volumes may not share a path or nest: the supervisor makes an inner one's
 * mount point inside the outer volume, as root before the sandbox's root is entered, and another
 * job of the same client with the outer volume mounted read-write could race a symlink there
 * (a -> /etc) and have it made or bound on the host. Each volume at a path of its own, none
 * under another's, leaves nothing of a volume's on the way to a mount point.
 */
function overlaps(mounts: readonly { readonly path: string }[]): string[] {
  return mounts.flatMap(({ path }, index) =>
    mounts.slice(0, index).flatMap(({ path: earlier }) => {
      if (earlier === path) return [`two volumes at ${path}`];
      const [outer, inner] = path.length < earlier.length ? [path, earlier] : [earlier, path];
      if (inner.startsWith(`${outer}/`))
        return [`a volume at ${inner} is under another volume at ${outer}: volumes may not nest`];
      return [];
    }),
  );
}

/** A job's volumes: at most MAX_VOLUME_MOUNTS, each at a path of its own, none under another. */
export const volumeMountsSchema = z
  .array(volumeMountSchema)
  .max(MAX_VOLUME_MOUNTS)
  .superRefine((mounts, context) => {
    for (const message of overlaps(mounts)) context.addIssue({ code: 'custom', message });
  })
  .readonly()
  .meta({
    description: `the caller's volumes the job sees, owned by the client's uid (at most ${MAX_VOLUME_MOUNTS}; in the private sandbox only); each at a path of its own, none at or under another's`,
  });

/** Whether a job's volumes include the one named `name`. */
export function namesVolume(mounts: readonly VolumeMount[], name: string): boolean {
  return mounts.some((mount) => mount.name === name);
}
