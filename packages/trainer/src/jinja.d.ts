declare module '*.jinja?raw' {
  const source: string;
  export default source;
}
