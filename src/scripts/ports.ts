// Fixed ports of the embedded dev server, so the Web UI is where README says.
export const DEV_SERVER_PORT = 7233;
export const DEV_UI_PORT = 8233;
/** Where the embedded dev server listens; the default TEMPORAL_ADDRESS of every client and worker. */
export const DEV_SERVER_ADDRESS = `127.0.0.1:${DEV_SERVER_PORT}`;
