// The entry point: starts the app shell (app.js) with the modules Kiln included for this app.
// Generated for: base, crud, auth.

import { startApp } from "./app.js";
import { crud } from "./crud/pages.js";
import { auth } from "./auth/pages.js";

startApp([crud, auth]);
