/** Settings fields holding a value they refused, by field id ("<method>-param-<flag>"): its label and what it takes. */
export type FieldProblems = Record<string, { label: string; text: string }>;
