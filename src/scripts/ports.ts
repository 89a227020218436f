// Fixed ports of the embedded dev server, so the Web UI is where README says.
export const DEV_SERVER_PORT = 7233;
export const DEV_UI_PORT = 8233;
