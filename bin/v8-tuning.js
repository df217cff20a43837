// Imported first by the entry points, before any module of the app is loaded.
import v8 from 'node:v8';

// V8 learns per allocation site whether its objects tend to survive and then
// allocates them in the old generation directly. What it learns while the
// app's modules load (Sequelize alone is enough) made it do so for objects of
// the request paths: mysql2's query objects, express's. Young objects
// referenced from those survive every scavenge until the next full GC, even
// once dead; measured, a quarter of what a call-plan request allocates, 3-5 ms
// scavenges, and the same for a plain mysql2 query loop once Sequelize is
// loaded (3.5 MB surviving each scavenge, against 42 KB with the flag).
v8.setFlagsFromString('--no-allocation-site-pretenuring');
