// Node-side entry: everything the CLI and the tests need to drive WebGPU in headless Chromium.
export {
  BrowserNotFoundError,
  chromiumArgs,
  findChromium,
  type GpuChoice,
  type LaunchOptions,
  launchChromium,
  parseGpuChoice,
} from './chromium.ts';
export { type DawnGpu, openDawn, swiftShaderIcd } from './dawn.ts';
export { type GpuRun, type GpuRunOptions, type GpuRunRequest, type GpuTestResult, RUNNER_PAGE, runGpuTests } from './gpu-tests.ts';
export { type HubMock, type HubMockOptions, type HubMockServer, hubMock } from './hub-mock.ts';
export { PageCalls, PageError, pageError } from './page-calls.ts';
export { type PageServer, REPO_ROOT, type ServeOptions, startServer } from './server.ts';
export { type AdapterReport, describeAdapter, type GpuSession, NoWebGpuError, openGpuSession, type SessionOptions } from './session.ts';
export { fileFor, type RequestHandler, type StaticServer, startStaticServer } from './static-server.ts';
