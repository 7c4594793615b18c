// A node script writing a cron file: `node`.
const fs = require("fs");
fs.writeFileSync(process.argv[2], "# modus live test (node)\n");
setTimeout(() => {}, 200);
