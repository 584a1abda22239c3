using Callern.Platform.Calls;
using Callern.Platform.Classroom;
using Callern.Platform.Demo;
using Callern.Platform.Infrastructure;
using Callern.Platform.Matching;
using Callern.Platform.People;
using Callern.Platform.Signaling;
using Callern.Platform.Tenancy;
using Callern.Platform.Turn;
using Callern.Platform.Wallets;
using Callern.Platform.Webhooks;

var builder = WebApplication.CreateBuilder(Hosting.Options(args));

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddRedactedLogging(builder.Configuration);
builder.Services.AddDatabase(builder.Configuration);
builder.Services.AddNotices();
builder.Services.AddApiConventions(builder.Configuration);
builder.Services.AddCallernDataProtection(builder.Configuration);
builder.Services.AddCallernAuthentication(builder.Configuration);
builder.Services.AddCallernOpenApi();
builder.Services.AddTenancy();
builder.Services.AddOrigins();
builder.Services.AddPeople();
builder.Services.AddWallets(builder.Configuration);
builder.Services.AddTurn(builder.Configuration);
builder.Services.AddSignaling(builder.Configuration);
builder.Services.AddCalls();
builder.Services.AddMatching();
builder.Services.AddClassroom(builder.Configuration);
builder.Services.AddWebhooks(builder.Configuration);
builder.Services.AddDemo(builder.Configuration);
builder.UseDocumentOnlyModeIfAsked(args);

var app = builder.Build();

app.UseSecurityHeaders();
app.UseApiConventions();
app.UseCors();
app.UseAuthentication();
app.UseOriginCheck();
app.UseRateLimiter();
app.UseAuthorization();
app.UseCallernOpenApi();

app.MapHealth();
app.MapTenants();
app.MapAccessTokens();
app.MapSettings();
app.MapOrigins();
app.MapPeople();
app.MapWallets();
app.MapTurn();
app.MapSignaling();
app.MapCalls();
app.MapMatching();
app.MapBlocks();
app.MapClassroom();
app.MapWebhooks();

if (await OpenApi.WriteDocumentIfAskedAsync(app, args))
{
    return;
}
await app.MigrateDatabaseAsync();
await app.SeedDemoIfEnabledAsync();
await app.RunAsync();

/// <summary>Entry point, visible to the integration tests' WebApplicationFactory.</summary>
public partial class Program;
