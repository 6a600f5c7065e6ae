/** The HTTP status of each kind of refusal: the one place a domain refusal becomes HTTP. */
import type { Refusal } from "../common/errors.js";

export const HTTP_STATUS: Record<Refusal, 400 | 404 | 409> = {
  invalid: 400,
  not_found: 404,
  conflict: 409,
};
