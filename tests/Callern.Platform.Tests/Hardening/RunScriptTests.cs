using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Classroom;
using Callern.Sdk;

namespace Callern.Platform.Tests.Hardening;

/// <summary>
/// The platform as <c>./run.sh</c> starts it (from the repository root, its environment): it reads its
/// own appsettings.json, and nothing secret reaches its log even with every log level at Debug: not
/// the hub's access tokens in the query string, not a signed download link, not the API key secret,
/// the operator key, the TURN secret or a TURN credential. Its security headers are checked on the
/// real server too.
/// </summary>
public sealed class RunScriptTests
{
    [Fact]
    public async Task Started_by_run_sh_it_logs_json_and_no_token_link_secret_or_credential_even_at_debug()
    {
        await using var run = await RunScript.StartAsync(new Dictionary<string, string>
        {
            // Configuration cannot open the gate: the most verbose levels, the hosting layer's request lines included.
            ["Logging__LogLevel__Default"] = "Debug",
            ["Logging__LogLevel__Microsoft.AspNetCore"] = "Debug",
            ["Logging__LogLevel__Microsoft.AspNetCore.Hosting.Diagnostics"] = "Debug",
        });
        var secrets = new List<string> { run.OperatorKey, run.TurnSecret };

        // A token from POST /v1/tokens (its headers checked), and tokens signed locally for a live call on the hub.
        var pair = await run.PairAsync(seconds: 3600);
        secrets.Add(pair.Tenant.Secret);
        using var apiKey = run.Http(null);
        apiKey.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{pair.Tenant.KeyId}:{pair.Tenant.Secret}")));
        var tokenResponse = await apiKey.PostAsJsonAsync("/v1/tokens", new { userId = "s", role = "student" });
        AssertPrivate(tokenResponse);
        secrets.Add((await tokenResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!);
        secrets.Add(run.Token(pair.Tenant, "s", CallernRoles.Student));
        secrets.Add(run.Token(pair.Tenant, "t", CallernRoles.Teacher));

        await using (pair)
        {
            var callId = await CallTestKit.ConnectedCallAsync(pair.Student, pair.Teacher);
            using var student = run.Http(run.Token(pair.Tenant, "s", CallernRoles.Student));
            var iceServers = await student.GetFromJsonAsync<JsonElement>("/v1/ice-servers");
            secrets.AddRange(iceServers.GetProperty("iceServers").EnumerateArray()
                .Select(s => s.TryGetProperty("credential", out var c) ? c.GetString() : null).OfType<string>());

            var file = new ByteArrayContent(ClassroomKit.Pdf());
            file.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"file\"", FileName = "\"notes.pdf\"" };
            var uploaded = await (await student.PostAsync($"/v1/calls/{callId}/files", new MultipartFormDataContent { file }))
                .EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>();
            var link = await (await student.PostAsync($"/v1/calls/{callId}/files/{uploaded.GetProperty("id").GetGuid()}/link", null))
                .EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>();
            var url = link.GetProperty("url").GetString()!;
            secrets.Add(url.Split('/')[^1]);
            using var browser = run.Http(null);
            var download = await browser.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, download.StatusCode);
            AssertPrivate(download);
            Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync(url + "x")).StatusCode);
        }

        var docs = await run.Http(null).GetAsync("/docs/index.html");
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Equal("nosniff", Header(docs, "X-Content-Type-Options"));
        Assert.Equal("DENY", Header(docs, "X-Frame-Options"));
        Assert.Equal("frame-ancestors 'none'", Header(docs, "Content-Security-Policy"));

        await run.StopAsync();
        var lines = run.PlatformLog.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // appsettings.json was read: its JSON console formatter writes every line.
        Assert.All(lines, line => JsonDocument.Parse(line).Dispose());
        Assert.Contains(lines, line => line.Contains("hubs/calls", StringComparison.Ordinal) && line.Contains("access_token=[redacted]", StringComparison.Ordinal));
        foreach (var secret in secrets)
        {
            var leaks = lines.Where(line => line.Contains(secret, StringComparison.Ordinal) || line.Contains(Signature(secret), StringComparison.Ordinal)).ToList();
            Assert.True(leaks.Count == 0, $"A secret ({secret[..Math.Min(6, secret.Length)]}…) is in {leaks.Count} log lines, e.g.: {leaks.FirstOrDefault()}");
        }
    }

    private static void AssertPrivate(HttpResponseMessage response)
    {
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Contains("no-store", Header(response, "Cache-Control"), StringComparison.Ordinal);
    }

    /// <summary>The third part of a JWT (its signature); the whole value for anything else.</summary>
    private static string Signature(string secret) => secret.Split('.') is [_, _, var signature] ? signature : secret;

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(", ", values)
            : null;
}
