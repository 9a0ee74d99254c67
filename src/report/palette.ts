/** Okabe–Ito colours: distinguishable with common colour-vision deficiencies and in greyscale print. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#999933'];
export const colorAt = (index: number): string => PALETTE[index % PALETTE.length];
