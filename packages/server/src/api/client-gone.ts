import type { FastifyReply } from 'fastify';

/** The client closed its connection before its answer was complete: nobody is left to answer. */
export class ClientGone extends Error {
  constructor() {
    super('The client closed the connection');
    this.name = 'ClientGone';
  }
}

/** A signal that aborts the work for a request, with `ClientGone`, when its client goes away first. */
export function abortOnDisconnect(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new ClientGone());
  });
  return controller.signal;
}
