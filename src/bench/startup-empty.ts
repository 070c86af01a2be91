// W6's floor: a process that starts, imports nothing and prints what startup.ts prints (the
// peers' node-empty), measured beside it so the difference comes from one moment.
console.log('grad=6');
