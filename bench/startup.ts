// W6: start a process, import rmad, one tiny gradient: d(x·x)/dx at x = 3.
import { grad } from '../src/index.js';

console.log(`grad=${grad((x) => x.mul(x))(3)}`);
