// W6: start a process, import rmad as a user does (the package's entry, the bundle that
// `npm run build` writes), one tiny gradient: d(x·x)/dx at x = 3.
import { grad } from 'rmad';

console.log(`grad=${grad((x) => x.mul(x))(3)}`);
