// What other packages' tests use of the kernels' testing kit: finite differences and seeded data.
export { dot, numericGrad } from './gradcheck.ts';
export { randn, uniform } from './random.ts';
