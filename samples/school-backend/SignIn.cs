using System.Security.Claims;
using Callern.Sdk;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Callern.Samples.SchoolBackend;

/// <summary>The school's two web apps: each has its own sign-in cookie, scoped to its path.</summary>
public sealed record SchoolApp(string Name, string Role)
{
    public string PathBase => $"/{Name}";
}

public static class SchoolApps
{
    public static readonly SchoolApp Student = new("student", CallernRoles.Student);
    public static readonly SchoolApp Teacher = new("teacher", CallernRoles.Teacher);
}

public sealed record SignInRequest(string? UserId);
public sealed record SessionUser(string Id, string Name, string Role);
public sealed record CallernToken(string AccessToken, DateTimeOffset ExpiresAt);
public sealed record AppConfig(string CallernUrl);

/// <summary>
/// Demo sign-in: pick a person from the school's directory, no password. What matters is the
/// shape a real school keeps: a session cookie (HttpOnly, SameSite=Strict) is the only way to
/// get a Callern token, and the token carries the signed-in person's id and role, never the
/// browser's say-so.
/// </summary>
public static class SignIn
{
    public static IServiceCollection AddSchoolSignIn(this IServiceCollection services)
    {
        var auth = services.AddAuthentication();
        foreach (var app in new[] { SchoolApps.Student, SchoolApps.Teacher })
        {
            auth.AddCookie(app.Name, o =>
            {
                o.Cookie.Name = $"school-{app.Name}";
                o.Cookie.Path = app.PathBase;
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.ExpireTimeSpan = TimeSpan.FromHours(8);
                o.SlidingExpiration = true;
                // An API answers 401/403; it does not redirect to a login page.
                o.Events.OnRedirectToLogin = context => Reject(context, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = context => Reject(context, StatusCodes.Status403Forbidden);
            });
        }
        return services.AddAuthorization();
    }

    private static Task Reject(RedirectContext<CookieAuthenticationOptions> context, int status)
    {
        context.Response.StatusCode = status;
        return Task.CompletedTask;
    }

    /// <summary><c>/{app}/api/…</c>: config, the directory to pick from, session, and the Callern token.</summary>
    public static RouteGroupBuilder MapSchoolApp(this IEndpointRouteBuilder endpoints, SchoolApp app)
    {
        var api = endpoints.MapGroup($"{app.PathBase}/api").WithMetadata(app);
        api.MapGet("/config", (IOptions<CallernOptions> options) => TypedResults.Ok(new AppConfig(options.Value.BaseUrl.TrimEnd('/'))));
        api.MapGet("/users", ListUsers);
        api.MapPost("/session", StartSession);
        api.MapDelete("/session", async Task<NoContent> (HttpContext http) => await EndSession(http, app));
        var signedIn = api.MapGroup("").RequireAuthorization(policy => policy.AddAuthenticationSchemes(app.Name).RequireRole(app.Role));
        signedIn.MapGet("/session", (ClaimsPrincipal user) => TypedResults.Ok(Current(user)));
        signedIn.MapPost("/token", IssueToken);
        return signedIn;
    }

    public static SessionUser Current(ClaimsPrincipal user) => new(
        user.FindFirstValue(ClaimTypes.NameIdentifier)!, user.FindFirstValue(ClaimTypes.Name)!, user.FindFirstValue(ClaimTypes.Role)!);

    private static async Task<Ok<IReadOnlyList<SchoolUser>>> ListUsers(HttpContext http, SchoolDirectory directory) =>
        TypedResults.Ok(await directory.ListAsync(App(http).Role, http.RequestAborted));

    private static async Task<Results<Ok<SessionUser>, ValidationProblem>> StartSession(
        HttpContext http, SignInRequest request, SchoolDirectory directory)
    {
        var app = App(http);
        var user = request.UserId is { Length: > 0 } id ? await directory.FindAsync(app.Role, id, http.RequestAborted) : null;
        if (user is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["userId"] = [$"Not a {app.Role} of this school."] });
        }
        var identity = new ClaimsIdentity(
            [new(ClaimTypes.NameIdentifier, user.Id), new(ClaimTypes.Name, user.Name), new(ClaimTypes.Role, user.Role)], app.Name);
        await http.SignInAsync(app.Name, new ClaimsPrincipal(identity));
        return TypedResults.Ok(new SessionUser(user.Id, user.Name, user.Role));
    }

    private static async Task<NoContent> EndSession(HttpContext http, SchoolApp app)
    {
        await http.SignOutAsync(app.Name);
        return TypedResults.NoContent();
    }

    /// <summary>The browser's Callern access token: short-lived, for the signed-in person only.</summary>
    private static Ok<CallernToken> IssueToken(ClaimsPrincipal principal, CallernApiFactory callern)
    {
        var user = Current(principal);
        var (token, expiresAt) = callern.Token(user.Id, user.Role, user.Name);
        return TypedResults.Ok(new CallernToken(token, expiresAt));
    }

    private static SchoolApp App(HttpContext http) => http.GetEndpoint()!.Metadata.GetMetadata<SchoolApp>()!;
}
