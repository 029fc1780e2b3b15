// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Me } from "@/lib/types";
import { ProfileForm } from "../ProfileForm";

const refresh = vi.fn();
vi.mock("next/navigation", () => ({ useRouter: () => ({ push: vi.fn(), refresh }) }));

const me: Me = {
  user_id: "u-1",
  email: "ada@example.com",
  display_name: "user-u1",
  role: "user",
  max_concurrent_sessions: 1,
};

describe("ProfileForm", () => {
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
    refresh.mockReset();
  });

  it("keeps the saved note and shows the stored values across the refresh after a save", async () => {
    const stored: Me = { ...me, display_name: "Ada L", email: "ada.l@example.com" };
    const fetchMock = vi.fn(async () =>
      new Response(JSON.stringify({ data: stored }), { status: 200, headers: { "content-type": "application/json" } }),
    );
    vi.stubGlobal("fetch", fetchMock);
    const { rerender } = render(<ProfileForm me={me} />);
    fireEvent.change(screen.getByTestId("profile-display-name"), { target: { value: "Ada L" } });
    fireEvent.change(screen.getByTestId("profile-email"), { target: { value: "Ada.L@Example.com" } });
    fireEvent.click(screen.getByTestId("profile-save"));
    await screen.findByTestId("profile-saved");
    expect(fetchMock).toHaveBeenCalledTimes(1);
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/v1/me");
    expect(JSON.parse(String(init.body))).toEqual({ display_name: "Ada L", email: "Ada.L@Example.com" });
    expect(refresh).toHaveBeenCalled();
    // The page re-renders with the server's new data (router.refresh): the note stays.
    rerender(<ProfileForm me={stored} />);
    expect(screen.getByTestId("profile-saved").textContent).toContain("Saved");
    expect((screen.getByTestId("profile-display-name") as HTMLInputElement).value).toBe("Ada L");
    expect((screen.getByTestId("profile-email") as HTMLInputElement).value).toBe("ada.l@example.com");
  });
});
