using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Callern.Platform.Tests.Calls;
using Callern.Platform.Tests.Infrastructure;
using Callern.Platform.Tests.Signaling;
using Callern.Sdk;
using Microsoft.AspNetCore.SignalR.Client;

namespace Callern.Platform.Tests.Tenancy;

/// <summary>A school's admin lists its web apps' origins; browsers elsewhere are refused with origin_not_allowed, REST and hub alike.</summary>
public sealed class OriginTests(OriginTests.App app) : IClassFixture<OriginTests.App>
{
    public const string OperatorOrigin = "https://operator.example";

    /// <summary>The platform with one origin configured by the operator, for every school.</summary>
    public sealed class App : CallernApp
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Callern:Cors:AllowedOrigins:0"] = OperatorOrigin,
        };
    }

    internal static async Task<HttpResponseMessage> FromOriginAsync(HttpClient client, string path, string? origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }
        return await client.SendAsync(request);
    }

    internal static async Task AssertOriginRefusedAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("origin_not_allowed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }

    internal static async Task<HttpResponseMessage> PreflightAsync(HttpClient client, string origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, "/v1/me/wallet");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "GET");
        request.Headers.Add("Access-Control-Request-Headers", "authorization");
        return await client.SendAsync(request);
    }

    internal static string? AllowedOriginHeader(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) ? values.Single() : null;

    [Fact]
    public async Task An_admin_adds_lists_and_removes_origins_as_browsers_write_them()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);

        await admin.AddAllowedOriginAsync(new AddOriginRequest { Origin = "HTTPS://School.Example:443" });
        await admin.AddAllowedOriginAsync(new AddOriginRequest { Origin = "http://localhost:5173" });
        var again = await admin.AddAllowedOriginAsync(new AddOriginRequest { Origin = "https://school.example" });
        var removed = await admin.RemoveAllowedOriginAsync("http://localhost:5173");
        var notListed = await Assert.ThrowsAsync<CallernApiException>(() => admin.RemoveAllowedOriginAsync("https://never.example"));

        Assert.Equal(["https://school.example", "http://localhost:5173"], again.Origins);
        Assert.Equal(["https://school.example"], removed.Origins);
        Assert.Equal(["https://school.example"], (await admin.ListAllowedOriginsAsync()).Origins);
        Assert.Equal(["https://school.example"], (await admin.GetSettingsAsync()).AllowedOrigins);
        Assert.Equal(404, notListed.StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("school.example")]
    [InlineData("ftp://school.example")]
    [InlineData("https://school.example/")]
    [InlineData("https://school.example/app")]
    [InlineData("https://school.example?x=1")]
    [InlineData("https://school.example#top")]
    [InlineData("https://user:pass@school.example")]
    [InlineData("https://*.school.example")]
    [InlineData("*")]
    [InlineData("null")]
    [InlineData("https://school\u0000.example")]
    [InlineData("https://school.example:99999")]
    public async Task A_bad_origin_is_refused_with_a_field_error_and_changes_nothing(string origin)
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.As(tenant, "admin-1", CallernRoles.Admin);
        await CallernApp.Sdk(admin).AddAllowedOriginAsync(new AddOriginRequest { Origin = "https://school.example" });

        var added = await admin.PostAsJsonAsync("/v1/settings/origins", new { origin });
        var removed = await admin.DeleteAsync("/v1/settings/origins?origin=" + Uri.EscapeDataString(origin));
        var put = await admin.PutAsJsonAsync("/v1/settings", new { allowedOrigins = new[] { origin } });

        foreach (var (response, field) in new[] { (added, "origin"), (removed, "origin"), (put, "allowedOrigins[0]") })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            // A character no text may hold is refused at the edge, where the field is named by its JSON path.
            var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.True(errors.TryGetProperty(field, out _) || errors.TryGetProperty("$." + field, out _), errors.GetRawText());
        }
        Assert.Equal(["https://school.example"], (await CallernApp.Sdk(admin).ListAllowedOriginsAsync()).Origins);
    }

    [Fact]
    public async Task A_school_lists_at_most_fifty_origins()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.As(tenant, "admin-1", CallernRoles.Admin);
        for (var i = 0; i < 50; i++)
        {
            (await admin.PostAsJsonAsync("/v1/settings/origins", new { origin = $"https://app{i}.school.example" })).EnsureSuccessStatusCode();
        }

        var full = await admin.PostAsJsonAsync("/v1/settings/origins", new { origin = "https://one-too-many.example" });

        Assert.Equal(HttpStatusCode.BadRequest, full.StatusCode);
        Assert.Equal(50, (await CallernApp.Sdk(admin).ListAllowedOriginsAsync()).Origins.Count);
    }

    [Fact]
    public async Task Only_admins_change_origins_and_each_school_sees_only_its_own()
    {
        var a = await app.CreateTenantAsync("School A");
        var b = await app.CreateTenantAsync("School B");
        await app.SdkAs(a, "admin-1", CallernRoles.Admin).AddAllowedOriginAsync(new AddOriginRequest { Origin = "https://a.example" });

        var byStudent = await app.As(a, "s1", CallernRoles.Student).PostAsJsonAsync("/v1/settings/origins", new { origin = "https://evil.example" });
        var byTeacher = await app.As(a, "t1", CallernRoles.Teacher).DeleteAsync("/v1/settings/origins?origin=https%3A%2F%2Fa.example");
        var byOtherSchool = await app.As(b, "admin-1", CallernRoles.Admin).DeleteAsync("/v1/settings/origins?origin=https%3A%2F%2Fa.example");

        Assert.Equal(HttpStatusCode.Forbidden, byStudent.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, byTeacher.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, byOtherSchool.StatusCode);
        Assert.Empty((await app.SdkAs(b, "admin-1", CallernRoles.Admin).ListAllowedOriginsAsync()).Origins);
        Assert.Equal(["https://a.example"], (await app.SdkAs(a, "admin-1", CallernRoles.Admin).ListAllowedOriginsAsync()).Origins);
    }

    [Fact]
    public async Task A_browser_request_is_answered_only_from_its_own_schools_the_operators_or_the_platforms_origin()
    {
        var a = await app.CreateTenantAsync("School A");
        var b = await app.CreateTenantAsync("School B");
        await app.SdkAs(b, "admin-1", CallernRoles.Admin).AddAllowedOriginAsync(new AddOriginRequest { Origin = "https://b.example" });
        var student = app.As(a, "s1", CallernRoles.Student);

        var unknown = await FromOriginAsync(student, "/v1/me/wallet", "https://a.example");
        var otherSchools = await FromOriginAsync(student, "/v1/me/wallet", "https://b.example");
        await app.SdkAs(a, "admin-1", CallernRoles.Admin).AddAllowedOriginAsync(new AddOriginRequest { Origin = "https://a.example" });
        var listed = await FromOriginAsync(student, "/v1/me/wallet", "https://a.example");
        var byOperator = await FromOriginAsync(student, "/v1/me/wallet", OperatorOrigin);
        var sameOrigin = await FromOriginAsync(student, "/v1/me/wallet", app.Server.BaseAddress.GetLeftPart(UriPartial.Authority));
        var notABrowser = await FromOriginAsync(student, "/v1/me/wallet", null);
        await app.SdkAs(a, "admin-1", CallernRoles.Admin).RemoveAllowedOriginAsync("https://a.example");
        var removed = await FromOriginAsync(student, "/v1/me/wallet", "https://a.example");

        await AssertOriginRefusedAsync(unknown);
        await AssertOriginRefusedAsync(otherSchools);
        // Refused, yet readable by the page: some school lists the origin, so CORS answers it.
        Assert.Equal("https://b.example", AllowedOriginHeader(otherSchools));
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        Assert.Equal("https://a.example", AllowedOriginHeader(listed));
        Assert.Equal(HttpStatusCode.OK, byOperator.StatusCode);
        Assert.Equal(HttpStatusCode.OK, sameOrigin.StatusCode);
        Assert.Equal(HttpStatusCode.OK, notABrowser.StatusCode);
        await AssertOriginRefusedAsync(removed);
    }

    [Fact]
    public async Task Preflights_answer_origins_some_school_lists_and_the_probe_answers_every_origin()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        var browser = app.Anonymous();

        var beforeListed = await PreflightAsync(browser, "https://new.example");
        var probeBefore = await FromOriginAsync(browser, "/v1/origin-check", "https://new.example");
        await admin.AddAllowedOriginAsync(new AddOriginRequest { Origin = "https://new.example" });
        var listed = await PreflightAsync(browser, "https://new.example");
        var probeListed = await FromOriginAsync(browser, "/v1/origin-check", "https://new.example");
        var byOperator = await PreflightAsync(browser, OperatorOrigin);
        await admin.RemoveAllowedOriginAsync("https://new.example");
        var afterRemoved = await PreflightAsync(browser, "https://new.example");

        Assert.Null(AllowedOriginHeader(beforeListed));
        Assert.Equal("*", AllowedOriginHeader(probeBefore));
        Assert.False((await probeBefore.Content.ReadFromJsonAsync<OriginProbe>())!.Known);
        Assert.Equal("https://new.example", AllowedOriginHeader(listed));
        Assert.True((await probeListed.Content.ReadFromJsonAsync<OriginProbe>())!.Known);
        Assert.Equal(OperatorOrigin, AllowedOriginHeader(byOperator));
        Assert.Null(AllowedOriginHeader(afterRemoved));
    }

    [Fact]
    public async Task The_hub_refuses_an_origin_the_school_does_not_list_with_origin_not_allowed()
    {
        var tenant = await app.CreateTenantAsync();
        var token = app.Token(tenant, "s1", CallernRoles.Student);
        using var negotiate = new HttpRequestMessage(HttpMethod.Post, "/hubs/calls/negotiate?negotiateVersion=1");
        negotiate.Headers.Add("Origin", "https://school.example");
        negotiate.Headers.Authorization = new("Bearer", token);

        await AssertOriginRefusedAsync(await app.Anonymous().SendAsync(negotiate));
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => HubClient.ConnectAsync(app, token, origin: "https://school.example", tokenInQuery: true));
        await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).AddAllowedOriginAsync(new AddOriginRequest { Origin = "https://school.example" });
        await using var allowed = await HubClient.ConnectAsync(app, token, origin: "https://school.example", tokenInQuery: true);
        await using var notABrowser = await HubClient.ConnectAsync(app, token);

        Assert.Contains("403", refused.Message, StringComparison.Ordinal);
        Assert.Equal(HubConnectionState.Connected, allowed.Connection.State);
        Assert.Equal(HubConnectionState.Connected, notABrowser.Connection.State);
    }
}
