// Light and dark themes: follows the system unless the person picks one; charts read colors from CSS.

import { Store } from "./store.js";

export type ThemeChoice = "system" | "light" | "dark";
export type Theme = "light" | "dark";

const storageKey = "shoal.theme";
const media = window.matchMedia("(prefers-color-scheme: dark)");

function readChoice(): ThemeChoice {
  try {
    const saved = window.localStorage.getItem(storageKey);
    if (saved === "light" || saved === "dark" || saved === "system") return saved;
  } catch (_error) {
    // Storage can be disabled; the system theme is a fine default.
  }
  return "system";
}

function resolve(choice: ThemeChoice): Theme {
  if (choice === "system") return media.matches ? "dark" : "light";
  return choice;
}

export const themeChoiceStore = new Store<ThemeChoice>(readChoice());
/** The theme in effect; charts subscribe to redraw in its colors. */
export const themeStore = new Store<Theme>(resolve(themeChoiceStore.get()));

function apply(): void {
  const choice = themeChoiceStore.get();
  const theme = resolve(choice);
  document.documentElement.dataset.theme = theme;
  document.documentElement.style.colorScheme = theme;
  if (themeStore.get() !== theme) themeStore.set(theme);
}

export function setThemeChoice(choice: ThemeChoice): void {
  try {
    window.localStorage.setItem(storageKey, choice);
  } catch (_error) {
    // Not saved; it still applies for this visit.
  }
  themeChoiceStore.set(choice);
  apply();
}

export function nextThemeChoice(choice: ThemeChoice): ThemeChoice {
  return choice === "system" ? "dark" : choice === "dark" ? "light" : "system";
}

media.addEventListener("change", apply);
apply();

/** The value of a CSS custom property on the root, e.g. cssVar("--accent"). */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Distinct, colorblind-aware hues for task names (Okabe-Ito and Tableau blends), readable on both themes. */
export const taskPalette = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#ff9da7",
  "#9c755f",
  "#56b4e9",
  "#009e73",
  "#cc79a7",
  "#a0cbe8",
  "#8cd17d",
  "#d4a6c8",
  "#86bcb6",
  "#f1ce63",
];

/** A stable color index for a name (FNV-1a), so "square" has one color on every page and every visit. */
export function colorIndexForName(name: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < name.length; index += 1) {
    hash ^= name.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % taskPalette.length;
}
