import { monotonicFactory } from 'ulidx';

/** ULIDs: sortable by creation time, so ids double as stable pagination cursors. */
export const newId: () => string = monotonicFactory();
