// The vocabulary of a client's volumes: the record the manager answers with, a client's budget,
// and a page of a listing. A volume is one client's named filesystem of a fixed size, reserved
// whole on the data disk when it is made (src/volumes/volume-manager.ts).

/** A volume as its client (and an admin's listing) sees it. */
export interface Volume {
  readonly name: string;
  /** The client whose volume it is: its common name. */
  readonly client: string;
  /** The size asked for, which the volume's filesystem (and its reservation on disk) has. */
  readonly sizeBytes: number;
  /** What its files take now, as its filesystem counts them. */
  readonly usedBytes: number;
  readonly createdAt: Date;
}

/** What one client's volumes may take together, from its role; undefined for no bound. */
export interface VolumeBudget {
  readonly totalBytes?: number;
  readonly count?: number;
}

/** Where a listing starts and how much of it to answer. */
export interface VolumePage {
  readonly limit: number;
  /** The position after which the page starts (the previous page's `next`); none for the first. */
  readonly after?: number;
}

/** One page of a listing: `next` is where the page after it starts, when there is one. */
export interface VolumeList {
  readonly volumes: readonly Volume[];
  readonly next?: number;
}
