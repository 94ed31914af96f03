/** What the contract middleware leaves on the context for the route handlers. */
export interface SimEnv {
  Variables: {
    /** The authenticated tenant (`X-TENANT-ID`). */
    tenant: string;
    /** `X-Request-Id`, when the caller sent one (for log correlation). */
    requestId: string | undefined;
  };
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
