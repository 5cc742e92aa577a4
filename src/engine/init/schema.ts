import { z } from 'zod';

const seed = z
  .number()
  .int()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER)
  .default(0)
  .describe(
    'seed of the portable generator (xoshiro128**): the same spec and seed give the same values on every machine; ' +
      'each parameter draws from its own stream, derived from its name',
  );

const scheme = <S extends string>(name: S, what: string) => z.literal(name).describe(what);

const gain = z.number().min(0).default(1).describe('scaling factor, as the `gain` of torch.nn.init (default 1)');
const heFields = {
  a: z.number().min(0).default(0).describe('negative slope of the leaky ReLU that follows (0 for ReLU); gain = √(2 / (1 + a²))'),
  mode: z.enum(['fan_in', 'fan_out']).default('fan_in').describe('fan_in preserves the variance of activations, fan_out of gradients'),
};

export const InitSpecSchema = z
  .discriminatedUnion('scheme', [
    z.strictObject({
      scheme: scheme('default', "PyTorch nn.Linear's init: U(±1/√fan_in) for weight and bias (the bias uses its weight's fan_in)"),
      seed,
    }),
    z.strictObject({ scheme: scheme('xavier_uniform', 'Glorot uniform: U(±gain·√(6 / (fan_in + fan_out)))'), gain, seed }),
    z.strictObject({ scheme: scheme('xavier_normal', 'Glorot normal: N(0, gain²·2 / (fan_in + fan_out))'), gain, seed }),
    z.strictObject({ scheme: scheme('he_uniform', 'Kaiming uniform: U(±gain·√(3 / fan)), gain √2 for ReLU'), ...heFields, seed }),
    z.strictObject({ scheme: scheme('he_normal', 'Kaiming normal: N(0, gain² / fan), gain √2 for ReLU'), ...heFields, seed }),
    z.strictObject({
      scheme: scheme('lecun_normal', 'LeCun normal: N(0, 1 / fan_in), as kaiming_normal_ with nonlinearity "linear" (not truncated)'),
      seed,
    }),
    z.strictObject({
      scheme: scheme('normal', 'N(mean, std²)'),
      mean: z.number().default(0).describe('mean'),
      std: z.number().min(0).default(1).describe('standard deviation'),
      seed,
    }),
    z
      .strictObject({
        scheme: scheme('uniform', 'U(low, high)'),
        low: z.number().default(0).describe('lower bound (inclusive)'),
        high: z.number().default(1).describe('upper bound (exclusive); at least `low`'),
        seed,
      })
      .refine((s) => s.low <= s.high, { message: 'high must be at least low', path: ['high'] }),
    z.strictObject({ scheme: scheme('zeros', 'all zeros'), seed }),
    z.strictObject({ scheme: scheme('ones', 'all ones'), seed }),
    z.strictObject({ scheme: scheme('constant', 'every element equal to `value`'), value: z.number().describe('the value'), seed }),
  ])
  .describe('how to initialize a parameter: a scheme, its parameters (PyTorch defaults) and a seed');
export type InitSpec = z.infer<typeof InitSpecSchema>;
export type InitScheme = InitSpec['scheme'];
