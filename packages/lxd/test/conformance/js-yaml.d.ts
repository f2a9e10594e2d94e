// the one function the conformance test uses (js-yaml ships no types)
declare module "js-yaml" {
  export const load: (text: string) => unknown
}
