// The task of the small-request scenario's hand-off floor: a worker that does nothing with the request.
export default function noop(): null {
  return null;
}
