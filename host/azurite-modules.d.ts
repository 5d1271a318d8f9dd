// Azurite ships no type declarations; host/azurite.ts narrows what it uses.
declare module 'azurite/dist/src/table/TableServer.js' {
  const module: unknown;
  export default module;
}
declare module 'azurite/dist/src/table/TableConfiguration.js' {
  const module: unknown;
  export default module;
}
