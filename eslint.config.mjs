// Effect's formatting conventions (the dprint settings the Effect repository uses) as a
// lint rule, plus a few rules that keep the code honest. `pnpm lint` checks,
// `pnpm lint --fix` formats; `pnpm check` runs it.
import effect from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

export default [
  { ignores: ["**/node_modules/**", "**/build/**", "**/docs/**", "bench/.work/**", "**/*.d.ts"] },
  {
    files: ["**/*.ts", "**/*.mts"],
    languageOptions: { parser: tseslint.parser, parserOptions: { sourceType: "module" } },
    plugins: { "@effect": effect, "@typescript-eslint": tseslint.plugin },
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      "@typescript-eslint/no-explicit-any": "error",
      "no-restricted-imports": ["error", {
        paths: [{ name: "@effect/schema", message: "use effect/Schema (@effect/schema is deprecated)" }],
        patterns: [{ group: ["effect/unstable/*"], message: "Effect 4 only: this library is for Effect 3" }]
      }]
    }
  }
]
