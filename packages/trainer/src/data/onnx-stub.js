// Stands in for onnxruntime-web, which @xenova/transformers imports at load time although webtune
// only uses its tokenizers (never an inference session). Keeps ~570 KB of ONNX out of the worker.
export const env = {};
export default { env };
