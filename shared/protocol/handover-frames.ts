import type { JsonObject } from './wire.js'

// The `handover` extension's two messages (docs/protocol.md, "Extension: handover"). Both ride
// the wsframe slot of the link being replaced, and only between peers that both listed the
// capability: a legacy peer never sees either.

/** Gateway to worker: this link is being replaced; route nothing more to it. */
export const HANDOVER_FRAME: JsonObject = Object.freeze({ type: 'handover' })

/** Worker to gateway: the last thing the worker writes to that link. */
export const HANDOVER_ACK_FRAME: JsonObject = Object.freeze({ type: 'handover-ack' })

export function isHandoverFrame(frame: JsonObject): boolean {
  return frame.type === 'handover' && frame.connectionKey === undefined
}

export function isHandoverAck(frame: JsonObject): boolean {
  return frame.type === 'handover-ack' && frame.connectionKey === undefined
}
